"""`python -m tinygrad_mnist.evaluate`: a checkpoint's test accuracy, confusion matrix and mistakes.

Only a door to the program in `tinygrad_mnist/app/evaluate.py`, the one spelling the tutorial uses;
importing this module does nothing."""
if __name__ == "__main__":
    from tinygrad_mnist.app.commands import evaluate_entry
    evaluate_entry()
