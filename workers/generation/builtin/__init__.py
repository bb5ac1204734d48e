"""The platform's own small model: its corpus, training and model card."""
