"""The content language: schema, loader with line numbers, validation, interpreter, i18n."""
