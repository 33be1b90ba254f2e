# Single-node profile (DESIGN.md): one PostgreSQL, one Redis that also carries the
# Dramatiq jobs, one pod per tier. A small cluster of 2 nodes (4 vCPU, 8 GiB) is enough.
# Sizes only: image, URLs and host come from terraform.tfvars (a -var-file given
# later wins over it, so keep those out of here).
#   terraform apply -var-file=examples/single-node.tfvars

http_replicas_min = 1
http_replicas_max = 2
http_workers      = 2
http_resources = {
  requests = { cpu = "500m", memory = "512Mi" }
  limits   = { cpu = "2", memory = "1Gi" }
}

wire_replicas_min = 1
wire_replicas_max = 2
wire_processes    = 1
wire_resources = {
  requests = { cpu = "250m", memory = "512Mi" }
  limits   = { cpu = "1", memory = "1Gi" }
}

worker_replicas  = 1
worker_processes = 1
worker_threads   = 4

# A single-stack test cluster: IPv4 only. Production needs dual stack (the guideline).
wire_dual_stack = false

shared_storage_size = "10Gi"
db_pool_size        = 5
