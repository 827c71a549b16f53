"""Community health: the CHAOSS metrics as `onramp report`, the managers' dashboard, the
weekly digest in chat and the business gauges of /metrics. The numbers come from
`storage/health/`; this package shows them."""
