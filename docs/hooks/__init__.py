"""MkDocs hooks of the documentation site (see mkdocs.yml); not part of the package."""
