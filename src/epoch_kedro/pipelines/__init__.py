"""One folder per pipeline stage; ``full`` chains them all."""
