# Scale-out profile (DESIGN.md): many stateless resolver and HTTP pods over a dual-stack
# load balancer; PostgreSQL (Citus or a large RDS with read replicas) and Redis are the
# cloud's; RabbitMQ (or a Redis of its own) for Dramatiq via broker_url.
# Sized for the guideline's 10,000 resolutions/s with 2-3x headroom: one resolver
# process answers tens of thousands of cached UDP requests/s (docs/wire.md), so the
# minimums here are for availability across zones, the maximums for peaks.
# Sizes only: image, URLs and host come from terraform.tfvars (a -var-file given
# later wins over it, so keep those out of here).
#   terraform apply -var-file=examples/scale-out.tfvars

http_replicas_min = 3
http_replicas_max = 20
http_workers      = 2
http_resources = {
  requests = { cpu = "2", memory = "2Gi" }
  limits   = { cpu = "2", memory = "3Gi" }
}

wire_replicas_min = 3
wire_replicas_max = 30
wire_processes    = 2
wire_resources = {
  requests = { cpu = "2", memory = "2Gi" }
  limits   = { cpu = "2", memory = "3Gi" }
}

worker_replicas  = 3
worker_processes = 2
worker_threads   = 4
worker_resources = {
  requests = { cpu = "1", memory = "1Gi" }
  limits   = { cpu = "2", memory = "2Gi" }
}

wire_dual_stack              = true
wire_external_traffic_policy = "Local"

# (3..20 HTTP pods x 2 workers + 3..30 resolver pods x 2 processes + workers) x pool:
# keep the total under max_connections, or put PgBouncer in front.
db_pool_size = 5

shared_storage_size = "100Gi"

extra_config = {
  IDNEST_RECORD_CACHE_MB = "640"
}
