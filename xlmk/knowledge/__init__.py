"""Knowledge construction: Wikipedia and Wikidata dumps -> a knowledge directory of Parquet shards.

Tables (see CONTRIBUTING.md): titles, mentions, descriptions, triples, relations, plus manifest.json.
Entry points: `xlmk.knowledge.build.build_knowledge` (the `xlmk knowledge build` command),
`xlmk.knowledge.candidates.build_candidate_list` (shared with probing) and
`xlmk.knowledge.sampling.language_probabilities` (shared with pre-training).
Nothing heavy is imported here, so `import xlmk.knowledge` stays cheap.
"""
