"""One tuning step of each method in two-party MPC: sft, prompt, lora, fot."""
