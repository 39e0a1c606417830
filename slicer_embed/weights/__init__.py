"""Package data: the default model's ``config.json`` and ``model.safetensors`` (when bundled)."""
