"""`python -m tinygrad_mnist.predict`: the digit in test images or your own images.

Only a door to the program in `tinygrad_mnist/app/predict.py`, the one spelling the tutorial uses;
importing this module does nothing."""
if __name__ == "__main__":
    from tinygrad_mnist.app.commands import predict_entry
    predict_entry()
