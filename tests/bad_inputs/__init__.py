"""Bad input through the real CLI: a table of inputs and a property-style fuzz test."""
