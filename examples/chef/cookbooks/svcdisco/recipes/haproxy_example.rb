# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Recipe:: haproxy_example
#
# HAProxy in front of a service's providers, found through svcdisco rather
# than Chef search:
#
#   before: servers = search(:node, "provides_service:web")
#   after:  all_providers_for_service('web', at_least: 1)
#
# The providers are looked up when the template resource converges (lazy),
# not when the recipe compiles, so the file reflects the registry at that
# moment. Fewer than min_providers providers, or an unreachable registry,
# fails the template resource with Svcdisco::NotEnoughProvidersError or
# Svcdisco::UnreachableError: the current haproxy.cfg is kept, never
# replaced by a file with fewer servers.

include_recipe 'svcdisco::default'

hx = node['svcdisco']['haproxy']

package 'haproxy'

template hx['config_file'] do
  source 'haproxy.cfg.erb'
  mode '0644'
  variables(lazy do
    {
      service: hx['service'],
      bind: hx['bind'],
      check_path: hx['check_path'],
      providers: all_providers_for_service(hx['service'], at_least: hx['min_providers'].to_i, where: hx['where'].to_h)
    }
  end)
  verify 'haproxy -c -f %{path}'
  notifies :reload, 'service[haproxy]', :delayed
end

service 'haproxy' do
  supports reload: true, restart: true, status: true
  action %i[enable start]
end
