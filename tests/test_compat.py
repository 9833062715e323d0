"""The transformers-version layer: the same tokenizer behaviour under 4.57 and 5.x (`make test-tf4` runs this
file under 4.57), and a checkpoint it writes that `AutoTokenizer` loads back as the same tokenizer."""
from __future__ import annotations

import transformers

from xlmk.compat import load_xlmr_tokenizer, transformers_major, xlmr_tokenizer_class, xlmr_tokenizer_from_vocab

VOCAB = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁Paris", -1.0), ("▁is", -1.0),
         ("▁in", -1.0), ("▁France", -1.5), ("▁Fr", -3.0), ("ance", -3.0), ("▁", -5.0), (".", -4.0), ("<mask>", 0.0)]


def test_the_major_version_is_the_imported_one():
    assert transformers_major() == int(transformers.__version__.split(".")[0])
    assert xlmr_tokenizer_class().__module__.startswith("transformers.models.xlm_roberta")


def test_a_tokenizer_from_a_vocabulary_cuts_single_and_pair_texts_as_xlmr_does(tmp_path):
    tok = xlmr_tokenizer_from_vocab(VOCAB)
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id, tok.unk_token_id, tok.mask_token_id) == (0, 1, 2, 3, 12)
    assert len(tok) == len(VOCAB)
    assert tok("Paris is in <mask>.")["input_ids"] == [0, 4, 5, 6, 12, 10, 11, 2]
    assert tok("Paris", "in France")["input_ids"] == [0, 4, 2, 2, 6, 7, 2]  # <s> A </s></s> B </s>
    assert tok("Paris  is\tin  Berlin")["input_ids"] == [0, 4, 5, 6, 10, 3, 2]  # whitespace runs split; <unk>
    assert tok.decode(tok("Paris is in France")["input_ids"], skip_special_tokens=True) == "Paris is in France"
    enc = tok(["Paris is", "in France ."], padding=True)
    assert enc["input_ids"][0][-1] == 1 and "token_type_ids" not in enc

    tok.save_pretrained(tmp_path)
    again = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert again("Paris is in <mask>.")["input_ids"] == [0, 4, 5, 6, 12, 10, 11, 2]
    assert again.mask_token_id == 12 and again.pad_token_id == 1


def test_a_bare_tokenizer_json_gets_xlmr_special_tokens(tmp_path):
    xlmr_tokenizer_from_vocab(VOCAB).backend_tokenizer.save(str(tmp_path / "tokenizer.json"))
    tok = load_xlmr_tokenizer(tmp_path)
    assert (tok.bos_token, tok.eos_token, tok.pad_token_id, tok.mask_token_id) == ("<s>", "</s>", 1, 12)
    assert tok("in France")["input_ids"] == [0, 6, 7, 2]


def test_trainer_arguments_written_the_5x_way_mean_the_same_under_4x(tmp_path):
    from xlmk.compat import trainer_arguments

    args = trainer_arguments(output_dir=str(tmp_path), warmup_steps=0.1, train_sampling_strategy="group_by_length",
                             report_to=[], save_strategy="no", use_cpu=True)
    assert args.get_warmup_steps(100) == 10
    assert getattr(args, "group_by_length", None) is True or args.train_sampling_strategy == "group_by_length"
    assert trainer_arguments(output_dir=str(tmp_path), warmup_steps=5, report_to=[], use_cpu=True).get_warmup_steps(100) == 5
