"""The pygame rating app (pbrl.clip_ui): people compare clips while the agent trains."""
