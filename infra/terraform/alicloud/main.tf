# The Kubernetes module (../), fed by this layer. Everything it takes is cloud-neutral:
# URLs, a kubeconfig, a storage class, claim names, an ingress class and annotations.

resource "kubernetes_namespace_v1" "idnest" {
  metadata {
    name = var.name
  }
}

# Resolution capacity: the resolver HPA's maximum must carry three times the peak.
check "wire_capacity" {
  assert {
    condition     = var.wire_replicas_max * var.resolver_pod_qps >= 3 * var.peak_qps
    error_message = "wire_replicas_max x resolver_pod_qps is below 3 x peak_qps: raise wire_replicas_max."
  }
}

module "idnest" {
  source = "../"

  kubeconfig_path  = data.alicloud_cs_cluster_credential.main.output_file
  namespace        = kubernetes_namespace_v1.idnest.metadata[0].name
  create_namespace = false
  name             = var.name
  image            = var.image
  node_prefix      = var.node_prefix
  ingress_host     = var.ingress_host

  database_url           = local.database_url
  migration_database_url = local.migration_database_url
  redis_url              = local.redis_url
  broker_url             = local.broker_url
  # Resolution cache misses read the replica (docs/operations.md, high availability).
  extra_secrets = {
    IDNEST_DATABASE_REPLICA_URLS = local.database_replica_url
  }

  storage_class_name  = kubernetes_storage_class_v1.nas.metadata[0].name
  extra_volume_claims = { for k, c in kubernetes_persistent_volume_claim_v1.archive : k => c.metadata[0].name }

  # The ALB takes TLS (certificate_id): no TLS Secret in the cluster.
  ingress_class_name      = kubernetes_ingress_class_v1.alb.metadata[0].name
  ingress_annotations     = local.ingress_annotations
  ingress_tls_secret_name = ""

  wire_dual_stack              = true
  wire_external_traffic_policy = "Local"
  wire_service_annotations     = local.wire_service_annotations

  # Scale-out sizes (docs/operations.md, "Sizing").
  http_replicas_min = 3
  http_replicas_max = var.http_replicas_max
  wire_replicas_min = 3
  wire_replicas_max = var.wire_replicas_max
  wire_processes    = 2
  worker_replicas   = 3
}
