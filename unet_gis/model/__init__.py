"""The U-Net, the spec that travels with it, and its checkpoint format."""
