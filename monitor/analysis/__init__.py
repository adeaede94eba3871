"""Stages `analyze` and `cluster`: the debate definition, relevance, frames, stories, comparison."""
