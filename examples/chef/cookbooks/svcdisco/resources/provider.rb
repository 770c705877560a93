# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Resource:: svcdisco_provider
#
# Declares this node a provider of a service: one file in the agent's
# services.d directory (the fields of `svcdisco register`'s flags), written
# by Chef's file resource, so it is atomic, honours why-run, is reported and
# can notify. :delete removes the file: the agent deregisters the provider.
#
#   svcdisco_provider 'web' do
#     port 8080
#     attributes zone: 'us-east-1a'
#     tags %w[primary v2]
#     check 'http://127.0.0.1:8080/health'
#     notifies :reload, 'systemd_unit[svcdisco-agent.service]', :delayed
#   end

unified_mode true
provides :svcdisco_provider

property :service, String, name_property: true,
                           description: 'the service name (default: the resource name)'
property :provider_id, String, description: 'the provider id; also names the file (ID.json)'
property :port, Integer, callbacks: { 'must be 1-65535' => ->(p) { p.between?(1, 65_535) } }
property :host, String
property :address, String
property :attributes, Hash, default: {}
property :tags, Array, default: []
property :endpoints, Hash, default: {}
property :weight, Integer
property :maintenance, [true, false], default: false
property :check, String
property :check_interval, [String, Integer]
property :check_timeout, [String, Integer]
property :rise, Integer
property :fall, Integer
property :services_dir, String, default: lazy { node['svcdisco']['services_dir'] }

action_class do
  def provider_file
    info = { 'port' => new_resource.port, 'id' => new_resource.provider_id }
    %i[host address attributes tags endpoints weight maintenance check check_interval check_timeout rise fall].each do |k|
      info[k.to_s] = new_resource.send(k)
    end
    Svcdisco::ProviderFile.new(new_resource.services_dir, new_resource.service, info.compact)
  end
end

action :create do
  raise ArgumentError, "svcdisco_provider[#{new_resource.name}]: port is required" if new_resource.port.nil?

  pf = provider_file
  directory new_resource.services_dir do
    mode '0755'
    recursive true
  end

  file pf.path do
    content pf.content
    mode '0644'
  end
end

action :delete do
  file provider_file.path do
    action :delete
  end
end
