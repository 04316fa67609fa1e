"""SCIM 2.0 (RFC 7643/7644) over the directory: the resources codexbot publishes, how it
reads what identity providers send, the filters it answers, and the service an HTTP
endpoint calls. No HTTP and no Slack here: bot/scim_endpoint.py serves it, and
sync/org/provisioning.py makes the changes."""
