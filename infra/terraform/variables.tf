# ---------------------------------------------------------------- cluster and image

variable "kubeconfig_path" {
  description = "Path of the kubeconfig used to reach the cluster (ACK, TKE, CCE or any Kubernetes >= 1.26)."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context to use; null uses the current one."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace everything is created in."
  type        = string
  default     = "idnest"
}

variable "create_namespace" {
  description = "Create the namespace (false: it exists already)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of every object, and the app.kubernetes.io/instance label."
  type        = string
  default     = "idnest"
}

variable "image" {
  description = "The idnest image built from the repository's Dockerfile, e.g. registry.cn-hangzhou.aliyuncs.com/acme/idnest:0.1.0. Use an immutable tag: a new tag runs a new migration Job."
  type        = string
}

variable "image_pull_policy" {
  description = "imagePullPolicy of every container."
  type        = string
  default     = "IfNotPresent"
}

variable "image_pull_secrets" {
  description = "Names of existing docker-registry Secrets in the namespace, for a private registry (ACR, TCR, SWR)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------- managed services (secret)

variable "database_url" {
  description = "IDNEST_DATABASE_URL: postgresql://user:password@host:5432/idnest of the managed PostgreSQL 15+ (pg_trgm must be allowed: the migrations CREATE EXTENSION it)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^postgres(ql)?://", var.database_url))
    error_message = "database_url must be a postgresql:// URL; the single-node and scale-out profiles run on PostgreSQL."
  }
}

variable "migration_database_url" {
  description = "IDNEST_MIGRATION_DATABASE_URL, given to the migration Job only: the owner role that runs migrations, row-level security and grants. database_url then names the application role, which idnest migrate creates if missing (no superuser, no BYPASSRLS). Empty: migrations run as database_url's role, which then owns the tables and is still held to row-level security (FORCE), but could turn it off."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.migration_database_url == "" || can(regex("^postgres(ql)?://", var.migration_database_url))
    error_message = "migration_database_url must be empty or a postgresql:// URL."
  }
}

variable "redis_url" {
  description = "IDNEST_REDIS_URL: redis:// or rediss:// URL of the managed Redis 7 (cache invalidation bus, rate limits)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^rediss?://", var.redis_url))
    error_message = "redis_url must be a redis:// or rediss:// URL."
  }
}

variable "broker_url" {
  description = "IDNEST_BROKER_URL for Dramatiq: amqp:// (RabbitMQ) or redis://. Empty: the Redis of redis_url carries the jobs too (fine for one node; give scale-out its own broker)."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.broker_url == "" || can(regex("^(amqps?|rediss?)://", var.broker_url))
    error_message = "broker_url must be empty, amqp(s):// or redis(s)://."
  }
}

variable "secret_key" {
  description = "IDNEST_SECRET_KEY (signing and encryption). Empty: a random 64-character key is generated and kept in the state. Every pod must share one key, so never leave it to each pod's ./var."
  type        = string
  default     = ""
  sensitive   = true
}

variable "wire_key_pem" {
  description = "PEM RSA private key of the Handle wire server (its public half is published in HS_SITE). Empty: a 2048-bit key is generated and kept in the state. All resolver pods must share it."
  type        = string
  default     = ""
  sensitive   = true
}

variable "upstream_token" {
  description = "IDNEST_UPSTREAM_TOKEN: bearer token at the national top-level node (or use upstream_username/upstream_password)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "upstream_username" {
  description = "IDNEST_UPSTREAM_USERNAME: SNMS-style login at the top-level node."
  type        = string
  default     = ""
}

variable "upstream_password" {
  description = "IDNEST_UPSTREAM_PASSWORD: SNMS-style login at the top-level node."
  type        = string
  default     = ""
  sensitive   = true
}

variable "smtp_password" {
  description = "IDNEST_SMTP_PASSWORD."
  type        = string
  default     = ""
  sensitive   = true
}

variable "oidc_client_secret" {
  description = "IDNEST_OIDC_CLIENT_SECRET for staff single sign-on."
  type        = string
  default     = ""
  sensitive   = true
}

# ---------------------------------------------------------------- node settings (ConfigMap)

variable "node_prefix" {
  description = "IDNEST_NODE_PREFIX: the prefix this secondary node was allocated, e.g. 88.100."
  type        = string
  default     = "88.100"
}

variable "node_name" {
  description = "IDNEST_NODE_NAME."
  type        = string
  default     = "idnest"
}

variable "public_base_url" {
  description = "IDNEST_PUBLIC_BASE_URL, e.g. https://id.example.cn. Empty: https://{ingress_host}."
  type        = string
  default     = ""
}

variable "oid_arc" {
  description = "IDNEST_OID_ARC: the node's OID arc (the default 2.999 is X.660's example arc)."
  type        = string
  default     = "2.999"
}

variable "log_level" {
  description = "IDNEST_LOG_LEVEL."
  type        = string
  default     = "INFO"
}

variable "db_pool_size" {
  description = "IDNEST_DB_POOL_SIZE per process. Connections needed: pool x processes x pods over all tiers, plus the worker's; keep it under the RDS max_connections (or put PgBouncer in front)."
  type        = number
  default     = 10
}

variable "upstream_url" {
  description = "IDNEST_UPSTREAM_URL: base URL of the national top-level node's API. Empty: nothing is synced."
  type        = string
  default     = ""
}

variable "smtp_host" {
  description = "IDNEST_SMTP_HOST. Empty: mail is written as .eml files under IDNEST_VAR_DIR/mail on the shared volume."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "IDNEST_SMTP_PORT."
  type        = number
  default     = 587
}

variable "smtp_user" {
  description = "IDNEST_SMTP_USER."
  type        = string
  default     = ""
}

variable "smtp_from" {
  description = "IDNEST_SMTP_FROM."
  type        = string
  default     = "idnest <noreply@idnest.local>"
}

variable "oidc_issuer" {
  description = "IDNEST_OIDC_ISSUER for staff single sign-on; empty: off."
  type        = string
  default     = ""
}

variable "oidc_client_id" {
  description = "IDNEST_OIDC_CLIENT_ID."
  type        = string
  default     = ""
}

variable "extra_config" {
  description = "More non-secret settings for the ConfigMap, by their IDNEST_* names (core/settings.py), e.g. { IDNEST_NEGATIVE_CACHE_TTL = \"5\" }."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_config) : can(regex("^IDNEST_[A-Z0-9_]+$", k))])
    error_message = "extra_config keys must be IDNEST_* setting names."
  }
}

# ---------------------------------------------------------------- shared storage

variable "extra_secrets" {
  description = "More secret settings for the Secret, by their IDNEST_* names (core/settings.py), e.g. a replica URL with its password. A cloud layer (alicloud/) fills it; the names are checked like the others."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "extra_volume_claims" {
  description = "Directories of IDNEST_VAR_DIR on volumes of their own: directory name => an existing PersistentVolumeClaim (ReadWriteMany) in the namespace, mounted in the HTTP and worker pods, e.g. { exports = \"idnest-exports\", escrow = \"idnest-escrow\" } on object storage. Empty: everything on the shared volume."
  type        = map(string)
  default     = {}
}

variable "storage_class_name" {
  description = "StorageClass of the ReadWriteMany volume for IDNEST_VAR_DIR (bulk uploads, mail files), e.g. an NAS/CFS/SFS class: alibabacloud-cnfs-nas (ACK), a CFS class (TKE), csi-nas (CCE). null: the cluster default (which must support RWX)."
  type        = string
  default     = null
}

variable "shared_storage_size" {
  description = "Size of the shared volume. Bulk uploads (up to 1 GiB each) stay there while their jobs run."
  type        = string
  default     = "20Gi"
}

# ---------------------------------------------------------------- HTTP tier

variable "http_replicas_min" {
  description = "Least HTTP pods (the HorizontalPodAutoscaler's minimum). 2 or more for availability."
  type        = number
  default     = 2
}

variable "http_replicas_max" {
  description = "Most HTTP pods."
  type        = number
  default     = 10
}

variable "http_workers" {
  description = "Hypercorn worker processes per HTTP pod (idnest serve --workers); match the CPU limit."
  type        = number
  default     = 2
}

variable "http_resources" {
  description = "Requests and limits of an HTTP pod."
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "1", memory = "1Gi" }
    limits   = { cpu = "2", memory = "2Gi" }
  }
}

variable "http_cpu_target" {
  description = "Average CPU utilisation (percent of requests) the HTTP autoscaler aims at."
  type        = number
  default     = 70
}

variable "ingress_host" {
  description = "Public host name of the portal and the HTTP APIs, e.g. id.example.cn (ICP filing needed for a host served in mainland China)."
  type        = string
}

variable "ingress_tls_secret_name" {
  description = "Existing kubernetes.io/tls Secret with the certificate of ingress_host (or the name cert-manager should fill). Empty: no TLS block (then set extra_config IDNEST_COOKIE_SECURE = \"false\" only for a trial)."
  type        = string
  default     = ""
}

variable "ingress_class_name" {
  description = "IngressClass of the cluster's ingress controller (ingress-nginx is offered by ACK, TKE and CCE)."
  type        = string
  default     = "nginx"
}

variable "ingress_annotations" {
  description = "Annotations of the Ingress. The default lets bulk uploads (up to 1 GiB) through ingress-nginx."
  type        = map(string)
  default = {
    "nginx.ingress.kubernetes.io/proxy-body-size"    = "1024m"
    "nginx.ingress.kubernetes.io/proxy-read-timeout" = "300"
  }
}

# ---------------------------------------------------------------- Handle wire tier

variable "wire_replicas_min" {
  description = "Least resolver pods (idnest resolver)."
  type        = number
  default     = 2
}

variable "wire_replicas_max" {
  description = "Most resolver pods."
  type        = number
  default     = 10
}

variable "wire_processes" {
  description = "idnest resolver --processes per pod (one per CPU of the limit)."
  type        = number
  default     = 1
}

variable "wire_resources" {
  description = "Requests and limits of a resolver pod."
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "1", memory = "1Gi" }
    limits   = { cpu = "1", memory = "2Gi" }
  }
}

variable "wire_cpu_target" {
  description = "Average CPU utilisation (percent of requests) the resolver autoscaler aims at."
  type        = number
  default     = 60
}

variable "wire_port" {
  description = "IDNEST_WIRE_PORT, and the port of the load balancer (2641 is the Handle protocol's)."
  type        = number
  default     = 2641
}

variable "wire_dual_stack" {
  description = "Ask for an IPv4 and an IPv6 address on the wire load balancer (ip_family_policy RequireDualStack). Needs a dual-stack cluster; false gives a single-stack IPv4 Service."
  type        = bool
  default     = true
}

variable "wire_split_services" {
  description = "One LoadBalancer Service per protocol (UDP, TCP) instead of one with both. For clouds or Kubernetes versions without mixed-protocol load balancers; then point both at one load balancer with your cloud's annotation and set wire_addresses."
  type        = bool
  default     = false
}

variable "wire_service_annotations" {
  description = "Annotations of the wire LoadBalancer Service(s): the cloud's load balancer spec, address type, an existing load balancer id, IPv6 options."
  type        = map(string)
  default     = {}
}

variable "wire_external_traffic_policy" {
  description = "externalTrafficPolicy of the wire Service. Local keeps the client's source address, which the per-source UDP rate limit (anti-reflection) needs; Cluster would make every client look like a node."
  type        = string
  default     = "Local"

  validation {
    condition     = contains(["Local", "Cluster"], var.wire_external_traffic_policy)
    error_message = "wire_external_traffic_policy must be Local or Cluster."
  }
}

variable "wire_addresses" {
  description = "IDNEST_WIRE_ADDRESSES: the public addresses advertised in HS_SITE, comma-separated IPs. Empty: the IP addresses the wire load balancer got."
  type        = string
  default     = ""

  validation {
    condition = var.wire_addresses == "" || alltrue([
      for a in split(",", var.wire_addresses) :
      can(cidrhost("${trimspace(a)}/${strcontains(a, ":") ? 128 : 32}", 0))
    ])
    error_message = "wire_addresses must be comma-separated IPv4/IPv6 addresses (HS_SITE carries addresses, not host names)."
  }
}

# ---------------------------------------------------------------- workers

variable "worker_replicas" {
  description = "Dramatiq worker pods (idnest worker)."
  type        = number
  default     = 1
}

variable "worker_processes" {
  description = "idnest worker --processes per pod."
  type        = number
  default     = 1
}

variable "worker_threads" {
  description = "idnest worker --threads per process."
  type        = number
  default     = 4
}

variable "worker_resources" {
  description = "Requests and limits of a worker pod."
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "500m", memory = "512Mi" }
    limits   = { cpu = "2", memory = "1Gi" }
  }
}

variable "worker_termination_grace_seconds" {
  description = "How long a stopping worker may take. A bulk job is written in transactional chunks of 2,000 rows and resumes from its cursor, so this only needs to cover the chunk in flight on a slow database; a job cut off is re-driven."
  type        = number
  default     = 120
}

# ---------------------------------------------------------------- migration

variable "migration_timeout" {
  description = "How long Terraform waits for the migration Job before failing the apply."
  type        = string
  default     = "15m"
}
