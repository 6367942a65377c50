"""Provider registration: what ``airflow providers ...`` shows for this package.

Connection forms are declared here (``conn-fields`` and ``ui-field-behaviour``)
rather than through the hook methods Airflow 3.2 deprecated. Values typed into
the extra fields are stored as top-level keys of ``Connection.extra``; hooks read
them with ``conn.extra_dejson.get(<field>)``.
"""

from __future__ import annotations

from typing import Any

GENESYS_CLOUD_REGIONS = [
    "mypurecloud.com",
    "use2.us-gov-pure.cloud",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "sae1.pure.cloud",
    "mxc1.pure.cloud",
    "mypurecloud.ie",
    "euw2.pure.cloud",
    "mypurecloud.de",
    "euc2.pure.cloud",
    "edee1.eusc-pure.cloud",
    "mec1.pure.cloud",
    "aps1.pure.cloud",
    "apse1.pure.cloud",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "apne2.pure.cloud",
    "apne3.pure.cloud",
]

_OPTIONAL_STR = ["string", "null"]


def _field(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": _OPTIONAL_STR, **schema}}


def _url_override(what: str) -> dict[str, Any]:
    return _field(
        f"{what} base URL (override)",
        f"Full {what.lower()} base URL, e.g. the sandbox or a proxy. Leave empty to derive it from the region.",
        format="url",
    )


def _connection_types() -> list[dict[str, Any]]:
    return [
        {
            "connection-type": "genesys_cloud",
            "hook-class-name": "contact_center_provider.hooks.genesys_cloud.GenesysCloudHook",
            "hook-name": "Genesys Cloud",
            "ui-field-behaviour": {
                "hidden-fields": ["host", "schema", "port", "extra"],
                "relabeling": {"login": "Client ID", "password": "Client Secret"},
                "placeholders": {"login": "OAuth client id (client credentials grant)"},
            },
            "conn-fields": {
                "region": _field(
                    "Region",
                    "Genesys Cloud region domain; API and login hosts are api.<domain> and login.<domain>.",
                    enum=[*GENESYS_CLOUD_REGIONS, None],
                    default="mypurecloud.com",
                ),
                "api_base_url": _url_override("API"),
                "login_base_url": _url_override("Login"),
            },
        },
        {
            "connection-type": "nice_cxone",
            "hook-class-name": "contact_center_provider.hooks.nice_cxone.NiceCxoneHook",
            "hook-name": "NICE CXone",
            "ui-field-behaviour": {
                "hidden-fields": ["host", "schema", "port", "extra"],
                "relabeling": {"login": "Access Key ID", "password": "Access Key Secret"},
                "placeholders": {"login": "CXone access key id"},
            },
            "conn-fields": {
                "region": _field(
                    "Region",
                    "CXone area of the API host (and of the access-key token). Leave empty to discover "
                    "the API host for the token's tenant.",
                    enum=["na1", "au1", "eu1", None],
                ),
                "client_id": _field(
                    "OAuth Client ID",
                    "Registered back-end app id: switches to the OAuth2 password grant (OpenID discovery).",
                ),
                "client_secret": _field(
                    "OAuth Client Secret", "Registered back-end app secret.", format="password"
                ),
                "tenant": _field(
                    "Tenant (call-spacing key)",
                    "Give every connection of one CXone tenant the same value: they then share the "
                    "one-call-per-30-seconds gate. Default: the access key id.",
                ),
                "call_spacing_seconds": _field(
                    "Call spacing (seconds)",
                    "Least time between two calls to the tenant's API (NICE: 30).",
                    type=["number", "null"],
                ),
                "call_spacing_margin_seconds": _field(
                    "Call spacing margin (seconds)",
                    "Added to the spacing against network jitter (default 1).",
                    type=["number", "null"],
                ),
                "api_base_url": _url_override("API"),
                "auth_base_url": _url_override("Authentication"),
            },
        },
        {
            "connection-type": "brightmetrics",
            "hook-class-name": "contact_center_provider.hooks.brightmetrics.BrightmetricsHook",
            "hook-name": "Brightmetrics",
            "ui-field-behaviour": {
                "hidden-fields": ["host", "schema", "port", "extra"],
                "relabeling": {"login": "Email (or apikey)", "password": "Password hash"},
                "placeholders": {
                    "login": "user@example.com; 'apikey' to send the API key as the password; empty with API Key",
                    "password": "base64 SHA-256 of the password (python -m "
                    "contact_center_provider.hooks.brightmetrics_password), or *pass<password>",
                },
            },
            "conn-fields": {
                "api_key": _field(
                    "API Key", "Brightmetrics API key, sent as a Bearer token.", format="password"
                ),
                "api_base_url": _field(
                    "OData base URL",
                    "Defaults to https://webapp.brightmetrics.com/OData.ashx",
                    format="url",
                ),
                "timezone": _field("Time zone", "Windows time zone name passed as ?timezone= (default UTC)."),
                "account": _field(
                    "Company account",
                    "Name of the company account the 150 requests a day are counted for; give every "
                    "connection of one company the same value (default: the login email's domain).",
                ),
            },
        },
        {
            "connection-type": "genesys_context_services",
            "hook-class-name": "contact_center_provider.hooks.genesys_context_services.GenesysContextServicesHook",
            "hook-name": "Genesys Context Services",
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "extra"],
                "relabeling": {"host": "GMS base URL", "login": "Username", "password": "Password"},
                "placeholders": {
                    "host": "https://gms.example.com:8080",
                    "port": "8080",
                    "login": "HTTP Basic user (empty: GMS without authentication)",
                },
            },
            "conn-fields": {
                "files_base_url": _field(
                    "Export files location",
                    "URI where the GMS export directory can be read: file:///mnt/gms-export, "
                    "s3://bucket/gms-export (gs://, azure:// too; sftp:// is not supported yet).",
                ),
                "files_conn_id": _field(
                    "Export files storage connection",
                    "Airflow connection for files_base_url (e.g. an AWS connection for s3://).",
                ),
                "server_export_dir": _field(
                    "Export directory on the GMS host",
                    "The same directory as GMS names it (/var/gms/export, C:/export); prefixes file_prefix.",
                ),
                "contact_center_id": _field(
                    "ContactCenterId",
                    "Tenant DBID or name, sent as the ContactCenterId header (multi-tenant).",
                ),
                "group_id": _field("GroupId", "Business unit, sent as the GroupId header (optional)."),
            },
        },
        {
            "connection-type": "genesys_cdds",
            "hook-class-name": "contact_center_provider.hooks.genesys_cdds.GenesysCddsHook",
            "hook-name": "Genesys CDDS",
            "ui-field-behaviour": {
                "hidden-fields": ["host", "schema", "port", "extra"],
                "relabeling": {"login": "Username (TENANT\\user)", "password": "Password"},
            },
            "conn-fields": {
                "api_key": _field("API Key", "Sent as x-api-key on every call.", format="password"),
                "client_id": _field("OAuth Client ID", "Client for the password grant."),
                "client_secret": _field("OAuth Client Secret", "Client secret.", format="password"),
                "region": _field("Region", "gapi-<region>.genesyscloud.com, e.g. euw1 or usw1."),
                "api_base_url": _url_override("API"),
                "private_key": _field(
                    "S/MIME private key (PEM)",
                    "Key of the certificate the artifacts are encrypted to.",
                    format="password",
                ),
                "certificate": _field(
                    "S/MIME certificate (PEM)", "The certificate uploaded to CDDS.", format="multiline"
                ),
                "private_key_passphrase": _field(
                    "Private key passphrase", "Only if the PEM key is encrypted.", format="password"
                ),
            },
        },
    ]


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow discovers through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-contact-center",
        "name": "Contact Center",
        "description": "Export contact-center data (Genesys Cloud, NICE CXone, Brightmetrics, Genesys Context "
        "Services, Genesys CDDS) into object storage as tables and reports.",
        "integrations": [
            {
                "integration-name": name,
                "external-doc-url": url,
                "tags": ["service"],
            }
            for name, url in [
                ("Genesys Cloud", "https://developer.genesys.cloud/analyticsdatamanagement/analytics/"),
                ("NICE CXone", "https://developer.niceincontact.com/API/DataExtractionAPI"),
                ("Brightmetrics", "https://support.brightmetrics.com/"),
                ("Genesys Context Services", "https://docs.genesys.com/Documentation/CS"),
                ("Genesys CDDS", "https://all.docs.genesys.com/PEC-CDDS"),
            ]
        ],
        "hooks": [
            {
                "integration-name": "Genesys Cloud",
                "python-modules": ["contact_center_provider.hooks.genesys_cloud"],
            },
            {
                "integration-name": "NICE CXone",
                "python-modules": ["contact_center_provider.hooks.nice_cxone"],
            },
            {
                "integration-name": "Brightmetrics",
                "python-modules": ["contact_center_provider.hooks.brightmetrics"],
            },
            {
                "integration-name": "Genesys Context Services",
                "python-modules": ["contact_center_provider.hooks.genesys_context_services"],
            },
            {
                "integration-name": "Genesys CDDS",
                "python-modules": ["contact_center_provider.hooks.genesys_cdds"],
            },
        ],
        "operators": [
            {
                "integration-name": "Genesys Cloud",
                "python-modules": [
                    "contact_center_provider.operators.export_job",
                    "contact_center_provider.operators.tables",
                    "contact_center_provider.operators.genesys_cloud",
                    "contact_center_provider.operators.genesys_cloud_enrichment",
                    "contact_center_provider.operators.genesys_cloud_tables",
                    "contact_center_provider.operators.render",
                ],
            },
            {
                "integration-name": "NICE CXone",
                "python-modules": ["contact_center_provider.operators.nice_cxone"],
            },
            {
                "integration-name": "Brightmetrics",
                "python-modules": ["contact_center_provider.operators.brightmetrics"],
            },
            {
                "integration-name": "Genesys Context Services",
                "python-modules": ["contact_center_provider.operators.genesys_context_services"],
            },
            {
                "integration-name": "Genesys CDDS",
                "python-modules": ["contact_center_provider.operators.genesys_cdds"],
            },
        ],
        "sensors": [
            {
                "integration-name": "Genesys Cloud",
                "python-modules": [
                    "contact_center_provider.sensors.export_job",
                    "contact_center_provider.sensors.genesys_cloud",
                ],
            },
            {
                "integration-name": "NICE CXone",
                "python-modules": ["contact_center_provider.sensors.nice_cxone"],
            },
            {
                "integration-name": "Genesys CDDS",
                "python-modules": ["contact_center_provider.sensors.genesys_cdds"],
            },
        ],
        "triggers": [
            {
                "integration-name": "Genesys Cloud",
                "python-modules": ["contact_center_provider.triggers.job_poll"],
            },
        ],
        "connection-types": _connection_types(),
        "config": {
            "contact_center": {
                "description": "Settings of the contact-center provider.",
                "options": {
                    "limits_store": {
                        "description": (
                            "Where vendor request limits that span tasks are counted (NICE CXone call "
                            "spacing, Brightmetrics' daily budget), so every worker and the triggerer "
                            "see the same counters: file:///path (one host; default: a folder in the "
                            "temp dir) or redis://host:port/db (several hosts; the redis extra). The "
                            "environment variable CC_LIMITS_STORE takes precedence."
                        ),
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "redis://redis:6379/3",
                        "default": None,
                    }
                },
            }
        },
    }
