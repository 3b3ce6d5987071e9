"""The review loop for doubtful labels: `kkot data review` ranks the photos whose label
the model doubts (see `ranking`), `build` makes the review set the web UI's Review page
shows; decisions come back as a label-overrides file (shared.contracts.review)."""
