"""One module per run kind (stock, zonal, change), each sequencing: check the outputs, read the
inputs, plan the pass, run it, derive the accounts, write through the output contract."""
