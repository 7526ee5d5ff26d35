"""neutron's request and response bodies as pydantic models: the API's edge, where a bad
value becomes a 400 naming its field, and the source of the OpenAPI document."""
