"""The REST API (/api/v1/): thin views that read through selectors and write through services.

Blinding and permissions come from the same selectors as the HTML pages, so both give the same
answers: anything not yours is a 404.
"""
