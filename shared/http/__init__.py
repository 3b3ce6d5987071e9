"""HTTP edge helpers every service shares, one module a rule:

accept.py     `Accept-Language` / `Accept` weights (RFC 9110 q-values), one ranking
multipart.py  the one bounded `multipart/form-data` reader
answers.py    JSON answers: a contract as the body, and the one error shape

The media table (image format -> MIME type, extension, accepted or not) is
`shared.image_formats`: it is about bytes as much as about HTTP.
"""
