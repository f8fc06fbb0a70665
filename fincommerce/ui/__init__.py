"""What people look at: figures, product cards, the widget browser, reports and the notebook pipeline."""
