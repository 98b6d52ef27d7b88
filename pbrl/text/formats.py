"""Names in a text model directory's metadata (``lm.json``), shared by the built-in and the
Hugging Face models and their readers."""

META = "lm.json"
HF_KIND = "pbrl-hf-causal-lm"
