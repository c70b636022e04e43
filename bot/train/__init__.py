"""The trainer's workbench (训练师工作台, DESIGN.md §5a), independent of the web.

- `inbox`: the misunderstood user messages found in Rasa's tracker store, masked, grouped and counted.
- `annotate`: a label written into the repository's own files (data/nlu, catalog aliases, the gap list).
- `training`: a `rasa train` run in the background into the candidates folder.
- `evaluation`: a model's figures on the project's test sets; `registry`: every model and its figures;
  `activation`: switching the model Rasa answers with through its HTTP API.
- `python -m bot.train …`: the same from the shell.
"""
