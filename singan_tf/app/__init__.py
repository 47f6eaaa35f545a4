"""`singan-tf app`: the training, sampling and applications in a local browser page (Gradio).

The page calls the same library functions as the commands (`actions.py`), so a picture made in the
browser has the pixels the command line writes for the same arguments. Training runs in a worker
process per job, one at a time (`jobs.py`, `worker.py`), so the page stays responsive and a crash in
training cannot take the server down. `ui.py` lays out the page, `server.py` starts it.
"""
