# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Recipe:: default
#
# Installs the svcdisco binary (at compile time, so that discovery calls in
# recipes work on a node's very first run), writes
# /etc/svcdisco/svcdisco.yaml from node['svcdisco'], and runs `svcdisco
# agent` under systemd as the node's boot hook (it registers every
# svcdisco_provider / provide_service of the node).

sd = node['svcdisco']
unit = 'svcdisco-agent.service'
agent = "systemd_unit[#{unit}]"

# Installed while the recipe compiles (compile_time): later recipes may call
# all_providers_for_service at compile time, and need the binary then.
installer =
  case sd['install_method']
  when 'url'
    raise "svcdisco: set node['svcdisco']['url'] (and checksum), or install_method 'package' or 'none'" if sd['url'].to_s.empty?

    directory ::File.dirname(sd['bin']) do
      recursive true
      compile_time true
    end
    remote_file sd['bin'] do
      source sd['url']
      checksum sd['checksum'] unless sd['checksum'].to_s.empty?
      mode '0755'
      compile_time true
    end
  when 'package'
    package 'svcdisco' do
      compile_time true
    end
  when 'none'
    nil
  else
    raise "svcdisco: unknown install_method #{sd['install_method'].inspect}: want url, package or none"
  end

# A compile-time resource sends no notifications; restart the agent for a
# new binary from here instead.
if installer&.updated_by_last_action? && sd['agent']['enabled']
  notify_group 'svcdisco binary changed' do
    notifies :restart, agent, :delayed
    action :run
  end
end

directory ::File.dirname(sd['config_file']) do
  mode '0755'
  recursive true
end

directory sd['services_dir'] do
  mode '0755'
  recursive true
end

# svcdisco rejects unknown keys; `svcdisco version --config` checks the file
# without contacting the registry, so a bad attribute never replaces a good
# file.
file sd['config_file'] do
  content Svcdisco::Config.yaml(sd, node.chef_environment)
  mode '0644'
  verify "#{sd['bin']} version --config %{path}"
  notifies :restart, agent, :delayed if sd['agent']['enabled']
end

if sd['agent']['enabled']
  # systemd_unit reloads systemd itself when the unit changes; reload
  # (SIGHUP) makes the agent reconcile services.d at once (it also watches
  # the directory by itself).
  systemd_unit unit do
    content Svcdisco::Unit.content(bin: sd['bin'], config_file: sd['config_file'], services_dir: sd['services_dir'])
    action %i[create enable start]
  end
else
  # Stopping the agent deregisters this node's providers.
  systemd_unit unit do
    action %i[stop disable delete]
    only_if { ::File.exist?("/etc/systemd/system/#{unit}") }
  end
end
