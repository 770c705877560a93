# frozen_string_literal: true

# What a node still carrying ironfan's library has: methods of the same
# names, included into Chef's classes when this cookbook's libraries load
# (after svcdisco's, as it depends on svcdisco). They searched the Chef
# server; here they fail loudly, so any call that svcdisco's compatibility
# layer does not answer fails the converge.
module ClusterServiceDiscovery
  %i[all_providers_for_service provider_for_service provide_service provider_private_ip provider_fqdn
     all_provider_private_ips private_ip_of fqdn_of zk_connect_str discover_zookeepers announce discover
     discover_all].each do |m|
    define_method(m) { |*| raise "ClusterServiceDiscovery##{m}: Chef search is not available here" }
  end
end

Chef::Recipe.include(ClusterServiceDiscovery)
Chef::Resource.include(ClusterServiceDiscovery)
Chef::Mixin::Template::TemplateContext.include(ClusterServiceDiscovery)
