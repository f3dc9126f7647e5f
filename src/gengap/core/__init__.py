"""Pieces shared by every game: lenient answer parsing, the episode contract and the episode loop, file I/O."""
