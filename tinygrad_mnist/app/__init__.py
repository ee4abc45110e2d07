"""The trainer application: the command-line programs built on the engine (`train`, `evaluate`,
`predict`, `plot`), their parsers and process settings (`cli`), output and exit statuses
(`runner`, `progress`), the MNIST models (`models`), a model from a checkpoint (`inference`),
one epoch of training (`epoch`) and what resuming needs (`resume`). The engine never imports
this package; `python -m tinygrad_mnist.train` and the console scripts enter through
`commands`. Importing it loads nothing."""
