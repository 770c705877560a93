# frozen_string_literal: true

require 'json'
require_relative 'errors'

module Svcdisco
  # ProviderFile is one file of the agent's services.d directory: one
  # provider, with the keys of `svcdisco register`'s flags. It is written as
  # JSON (Ruby's standard library; the agent reads JSON and YAML alike),
  # with keys in a fixed order, so equal info always gives equal bytes and
  # "changed" can be a byte comparison.
  class ProviderFile
    SERVICE_RE = /\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z/.freeze

    # Keys of info that are provider fields; every other key of info
    # becomes an attribute (ironfan's provide_service merged arbitrary info
    # into the node, so recipes pass things like :role => 'master').
    FIELDS = %w[port host address id attributes tags endpoints weight maintenance
                check check_interval check_timeout rise fall].freeze

    attr_reader :service, :path

    def initialize(dir, service, info)
      raise ArgumentError, "svcdisco: invalid service name #{service.inspect}" unless SERVICE_RE.match?(service.to_s)

      @service = service.to_s
      @info = stringify(info || {})
      @path = File.join(dir, "#{file_stem}.json")
    end

    # declare declares, in a Chef recipe or action (context), the
    # svcdisco_provider resource for provide_service's arguments and
    # returns it: info keys that are not provider fields become attributes,
    # and the resource is named after the id when one is given.
    def self.declare(context, service, info)
      info = (info || {}).to_h.transform_keys(&:to_s)
      attrs = (info['attributes'] || {}).to_h.transform_keys(&:to_s)
      props = { 'service' => service.to_s }
      info.each do |k, v|
        next if v.nil? || k == 'attributes'

        FIELDS.include?(k) ? props[k] = v : attrs[k] = v
      end
      props['attributes'] = attrs unless attrs.empty?
      props['provider_id'] = props.delete('id') if props.key?('id')
      name = (props['provider_id'] || service).to_s
      context.declare_resource(:svcdisco_provider, name) do
        props.each { |k, v| send(k, v) }
      end
    end

    # content is the file's bytes.
    def content
      "#{JSON.pretty_generate(document)}\n"
    end

    # write writes content atomically and returns whether the file changed:
    # false when it already holds exactly these bytes (nothing is written).
    #
    # The temporary file is hidden (the agent ignores dot files) and lives in
    # the same directory, so the rename is atomic and the agent sees either
    # the old file or the new one, never half of one.
    def write
      data = content
      return false if File.file?(path) && File.binread(path) == data

      dir = File.dirname(path)
      tmp = File.join(dir, ".#{File.basename(path)}.#{Process.pid}.tmp")
      begin
        File.open(tmp, File::WRONLY | File::CREAT | File::TRUNC, 0o644) do |f|
          f.write(data)
          f.flush
          f.fsync
        end
        File.chmod(0o644, tmp) # not narrowed by umask: the agent may run as another user
        File.rename(tmp, path)
      ensure
        File.unlink(tmp) if File.exist?(tmp)
      end
      fsync_dir(dir)
      true
    end

    private

    def document
      doc = { 'service' => service, 'port' => port }
      %w[host address id].each { |k| doc[k] = @info[k].to_s if present?(@info[k]) }
      attrs = attributes
      doc['attributes'] = attrs unless attrs.empty?
      tags = Array(@info['tags']).map(&:to_s)
      doc['tags'] = tags unless tags.empty?
      eps = endpoints
      doc['endpoints'] = eps unless eps.empty?
      doc['weight'] = Integer(@info['weight']) if present?(@info['weight'])
      doc['maintenance'] = true if @info['maintenance'] == true
      check_fields(doc)
      doc
    end

    def port
      port = Integer(@info['port'], exception: false)
      return port if port&.between?(1, 65_535)

      raise ArgumentError, "svcdisco: provide_service #{service}: port must be 1-65535, got #{@info['port'].inspect}"
    end

    # attributes: info['attributes'] merged with every non-field key of
    # info; values must be scalars (svcdisco attributes are strings).
    def attributes
      merged = stringify(@info['attributes'] || {})
      @info.each { |k, v| merged[k] = v unless FIELDS.include?(k) }
      merged.keys.sort.each_with_object({}) do |k, out|
        v = merged[k]
        if v.is_a?(Hash) || v.is_a?(Array)
          raise ArgumentError, "svcdisco: provide_service #{service}: attribute #{k} must be a string, number or boolean"
        end

        out[k] = v.to_s unless v.nil?
      end
    end

    # endpoints accept "host:port" strings or {host:, port:} hashes.
    def endpoints
      eps = stringify(@info['endpoints'] || {})
      eps.keys.sort.each_with_object({}) do |name, out|
        ep = eps[name]
        out[name] = ep.is_a?(Hash) ? "#{ep['host'] || ep[:host]}:#{ep['port'] || ep[:port]}" : ep.to_s
      end
    end

    def check_fields(doc)
      return unless present?(@info['check'])

      doc['check'] = @info['check'].to_s
      %w[check_interval check_timeout].each do |k|
        v = @info[k]
        doc[k] = v.is_a?(Numeric) ? "#{v}s" : v.to_s if present?(v)
      end
      %w[rise fall].each { |k| doc[k] = Integer(@info[k]) if present?(@info[k]) }
    end

    # file_stem: the service name, or the id when one is given (two
    # providers of one service on one node need two files).
    def file_stem
      return service unless present?(@info['id'])

      id = @info['id'].to_s
      raise ArgumentError, "svcdisco: provide_service #{service}: id #{id.inspect} must match #{SERVICE_RE.source}" unless SERVICE_RE.match?(id)

      id
    end

    def present?(value)
      !(value.nil? || value.to_s.empty?)
    end

    def stringify(hash)
      hash.to_h.each_with_object({}) { |(k, v), out| out[k.to_s] = v }
    end

    def fsync_dir(dir)
      File.open(dir, File::RDONLY) { |d| d.fsync }
    rescue SystemCallError
      nil # some filesystems refuse fsync on a directory; the rename stands
    end
  end
end
