"""Generation backends besides in-process transformers (``generation.py``): vLLM and OpenAI-compatible HTTP.

Each is imported only when a recipe names it, so neither vLLM nor any HTTP code loads otherwise.
"""
