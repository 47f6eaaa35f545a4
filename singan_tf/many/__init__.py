"""Training many images at once (`singan-tf train-many`): one Ray task per image, each a resumable
`train_image` run in its own worker; a live progress board and a summary table.

batch        schedules the tasks and collects the outcomes
inputs       which images, their model folders and seeds
task         what one worker runs, and the progress it reports
progress     the live display of every image's scale and iteration
report       the summary table and file
ray_session  starting or joining Ray
"""
