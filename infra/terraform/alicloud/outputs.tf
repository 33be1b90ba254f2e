output "vpc_id" {
  description = "The dual-stack VPC."
  value       = alicloud_vpc.main.id
}

output "cluster_id" {
  description = "The ACK cluster."
  value       = alicloud_cs_managed_kubernetes.main.id
}

output "wire_nlb_dns_name" {
  description = "DNS name of the wire NLB (UDP/TCP 2641, IPv4 and IPv6)."
  value       = alicloud_nlb_load_balancer.wire.dns_name
}

output "http_alb_dns_name" {
  description = "DNS name of the HTTPS ALB: point ingress_host (CNAME) at it."
  value       = alicloud_alb_load_balancer.http.dns_name
}

output "database_host" {
  description = "RDS PostgreSQL primary endpoint (follows failover)."
  value       = local.db_host
}

output "database_replica_host" {
  description = "RDS PostgreSQL read replica endpoint (resolution reads)."
  value       = local.db_replica_host
}

output "redis_host" {
  description = "Tair endpoint."
  value       = local.redis_host
}

output "buckets" {
  description = "OSS buckets: exports, escrow, logs."
  value       = merge({ for k, b in alicloud_oss_bucket.archive : k => b.bucket }, { logs = alicloud_oss_bucket.logs.bucket })
}

output "egress_mbps" {
  description = "Bandwidth package of the wire NLB, Mbit/s (3 x peak_qps x (answer_bytes + 48) x 8, +25 %)."
  value       = local.egress_mbps
}

output "wire_addresses" {
  description = "What HS_SITE advertises (from the module)."
  value       = module.idnest.wire_addresses
}

output "database_replica_url" {
  description = "URL of the read replica for resolution reads, as the application's role."
  value       = local.database_replica_url
  sensitive   = true
}
