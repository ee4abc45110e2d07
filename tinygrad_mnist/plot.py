"""`python -m tinygrad_mnist.plot`: training curves from a `--metrics-out` file.

Only a door to the program in `tinygrad_mnist/app/plot.py`, the one spelling the tutorial uses;
importing this module does nothing."""
if __name__ == "__main__":
    from tinygrad_mnist.app.commands import plot_entry
    plot_entry()
