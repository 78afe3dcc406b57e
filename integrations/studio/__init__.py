"""The mapping studio: what the step editor does — versions of a step's configuration,
export and import, catalogue checks and previews. Services and selectors; the admin
pages in integrations/admin/steps.py only call them."""
