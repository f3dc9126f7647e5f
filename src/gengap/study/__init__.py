"""The study: compare post-training branches from one Init and decide verdicts (spec/study.md)."""
