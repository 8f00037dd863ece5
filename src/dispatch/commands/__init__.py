"""One module per `dispatch` sub-command; each adds its parser and a handler."""
