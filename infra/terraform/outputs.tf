output "namespace" {
  description = "Namespace of the deployment."
  value       = local.namespace
}

output "ingress_host" {
  description = "Host of the portal and HTTP APIs; point its DNS (A and AAAA) at ingress_addresses."
  value       = var.ingress_host
}

output "public_base_url" {
  description = "IDNEST_PUBLIC_BASE_URL as configured."
  value       = local.config_data["IDNEST_PUBLIC_BASE_URL"]
}

output "ingress_addresses" {
  description = "Addresses the ingress controller reported for the Ingress (IP or host name)."
  value = [
    for ing in try(kubernetes_ingress_v1.http.status[0].load_balancer[0].ingress, []) :
    try(length(ing.ip) > 0, false) ? ing.ip : ing.hostname
  ]
}

output "wire_load_balancer" {
  description = "The wire Service(s) and the addresses their load balancers got (IPv4 and IPv6 with dual stack)."
  value = {
    for key, svc in kubernetes_service_v1.wire : svc.metadata[0].name => [
      for ing in try(svc.status[0].load_balancer[0].ingress, []) :
      try(length(ing.ip) > 0, false) ? ing.ip : ing.hostname
    ]
  }
}

output "wire_addresses" {
  description = "IDNEST_WIRE_ADDRESSES: what HS_SITE advertises (GET_SITE_INFO, 0.NA/{prefix})."
  value       = local.wire_addresses
}

output "migration_job" {
  description = "The migration Job of this image (kubectl -n NAMESPACE logs job/NAME)."
  value       = kubernetes_job_v1.migrate.metadata[0].name
}
