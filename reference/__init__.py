"""vaegrade's trusted reference implementation: data, KL closed forms, samplers, losses,
reference models, the pretrained MNIST classifier and sample-quality metrics."""
