variable "region" {
  description = "Alibaba Cloud region, e.g. cn-hangzhou, cn-beijing, cn-shanghai."
  type        = string
  default     = "cn-hangzhou"
}

variable "zones" {
  description = "Three zones of the region (one vSwitch each, the database's primary, standby and read replica spread over them)."
  type        = list(string)
  default     = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]

  validation {
    condition     = length(var.zones) == 3
    error_message = "Give exactly three zones."
  }
}

variable "name" {
  description = "Name prefix of every cloud resource."
  type        = string
  default     = "idnest"
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; the IPv6 /56 is allocated by the cloud."
  type        = string
  default     = "10.40.0.0/16"
}

variable "image" {
  description = "The idnest image (ACR), passed to the Kubernetes module."
  type        = string
}

variable "ingress_host" {
  description = "Host of the portal and HTTP APIs (needs an ICP filing: docs/operations.md, Go-live prerequisites)."
  type        = string
}

variable "certificate_id" {
  description = "ID of the TLS certificate in Certificate Management Service for the ALB's HTTPS listener."
  type        = string
}

variable "node_prefix" {
  description = "The prefix this secondary node was allocated, e.g. 88.100."
  type        = string
}

variable "node_instance_types" {
  description = "ECS instance types of the ACK node pool (several, in case one is sold out in a zone)."
  type        = list(string)
  default     = ["ecs.c7.xlarge", "ecs.c6.xlarge", "ecs.g7.xlarge"]
}

variable "node_pool_min" {
  description = "Least ECS nodes (the cluster autoscaler's minimum): one per zone at least."
  type        = number
  default     = 3
}

variable "node_pool_max" {
  description = "Most ECS nodes: room for the HPA maxima below (4 vCPU each)."
  type        = number
  default     = 30
}

variable "db_instance_type" {
  description = "RDS PostgreSQL instance class of the primary (and its standby)."
  type        = string
  default     = "pg.n4.2c.2m"
}

variable "db_replica_instance_type" {
  description = "RDS PostgreSQL instance class of the read replica (resolution reads)."
  type        = string
  default     = "pg.n4.2c.2m"
}

variable "db_storage_gb" {
  description = "Initial ESSD storage of the database, GB; it grows by itself up to db_storage_max_gb."
  type        = number
  default     = 100
}

variable "db_storage_max_gb" {
  description = "Upper bound of the database's automatic storage growth, GB."
  type        = number
  default     = 2000
}

variable "redis_instance_class" {
  description = "Tair (Redis 7 compatible) instance class: cache bus, sessions, rate limits, Dramatiq jobs."
  type        = string
  default     = "tair.rdb.2g"
}

variable "peak_qps" {
  description = "The resolution peak the node is sized for (answers/s). The guideline's 10,000 until the node has a measured peak of its own (the rate of idnest_resolution_seconds_count in /metrics, all doors)."
  type        = number
  default     = 10000
}

variable "answer_bytes" {
  description = "Size of one answer for the bandwidth sizing (bytes of Handle payload; IP/UDP headers are added)."
  type        = number
  default     = 500
}

variable "resolver_pod_qps" {
  description = "Answers/s one resolver pod (2 processes, 2 vCPU) is planned to carry: a ninth of one process's measured UDP saturation (89,009/s, docs/wire.md), to leave room for cache misses, TCP and a real network path."
  type        = number
  default     = 10000
}

variable "wire_replicas_max" {
  description = "The resolver HPA's maximum; wire_replicas_max x resolver_pod_qps must be at least 3 x peak_qps (checked)."
  type        = number
  default     = 12
}

variable "http_replicas_max" {
  description = "The HTTP HPA's maximum."
  type        = number
  default     = 20
}

variable "export_retention_days" {
  description = "Days a tenant export stays in the exports bucket (the download link lives 72 hours)."
  type        = number
  default     = 7
}

variable "escrow_retention_days" {
  description = "Days escrow sets are kept under the bucket's WORM retention (none may delete them sooner)."
  type        = number
  default     = 365
}

variable "allowed_admin_cidrs" {
  description = "CIDRs allowed to reach the ACK API server from outside the VPC (empty: the VPC only)."
  type        = list(string)
  default     = []
}
