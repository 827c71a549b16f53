"""One module per dashboard page: each turns that page's figures (storage/health/types.py)
into cards and sections for a reader (`build(data, view) -> Page`)."""
