# frozen_string_literal: true

#
# Cookbook:: ironfan_consumer
# Recipe:: default
#
# Written the ironfan way: discovery at compile time, results read as Chef
# nodes (server[:ipaddress], server.name, server[:provides_service][...]).
# The only change for svcdisco is the first line.

include_recipe 'svcdisco::ironfan_compat'

dir = node['ironfan_consumer']['dir']
directory dir do
  recursive true
end

provide_service('app', port: 9000, role: 'master')
announce(:kafka, :broker, port: 9092)

servers = all_providers_for_service('web')
zone_a = all_providers_for_service('web', service_filters: { 'zone' => 'a' })
zone_b = all_providers_for_service('web') { |s| s[:provides_service]['web'][:zone] == 'b' }
newest = provider_for_service('web')
zks = discover_zookeepers(node['ironfan_consumer']['exhibitor_url'])
broker = discover(:kafka, :broker)

facts = {
  'servers' => servers.map(&:name),
  'zone_a' => zone_a.map { |s| private_ip_of(s) },
  'zone_b' => zone_b.map { |s| fqdn_of(s) },
  'newest' => "#{newest.name} #{newest[:private_ip]} #{newest[:fqdn]}",
  'newest_port' => newest[:provides_service]['web'][:port],
  'newest_is_a_mash' => newest[:provides_service].is_a?(Mash),
  'or_fail' => provider_for_service_or_fail('web')[:ipaddress],
  'provider_private_ip' => provider_private_ip('web'),
  'provider_fqdn' => provider_fqdn('web'),
  'all_provider_private_ips' => all_provider_private_ips('web'),
  'absent' => provider_for_service('absent').inspect,
  'kafka_zk' => zk_connect_str(zks, 'kafka'),
  'broker' => "#{broker.name}:#{broker[:provides_service]['bakery-kafka-broker']['port']}",
  'brokers' => discover_all(:kafka, :broker).size
}

file "#{dir}/facts.json" do
  content "#{JSON.pretty_generate(facts)}\n"
end

template "#{dir}/backends.cfg" do
  source 'backends.erb'
  variables(servers: servers)
end
