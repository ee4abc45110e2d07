"""`python -m tinygrad_mnist.train`: the trainer (options: `--help`, or `man tinygrad-mnist-train`).

Only a door to the program in `tinygrad_mnist/app/train.py`, the one spelling the tutorial uses;
importing this module does nothing."""
if __name__ == "__main__":
    from tinygrad_mnist.app.commands import train_entry
    train_entry()
