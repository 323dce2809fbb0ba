using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using RabbitMQ.Client;

namespace MlNetConv.Tests.Shared;

/// <summary>
/// A private RabbitMQ node on loopback for the tests and the worker benchmark: Debian's server (installed by build/rabbitmq/install.sh when
/// missing) run as this user with its own node name, ports, data folder, Erlang cookie and epmd, never the system
/// service. It can be stopped and started again on the same data (a broker restart), killed, or joined by more nodes
/// into a cluster (<see cref="Join"/>), and is stopped, by process id, at the end.
/// </summary>
public sealed class RabbitMqNode : IDisposable
{
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string Control = "/usr/lib/rabbitmq/bin/rabbitmqctl";
    private static int nodes;
    private readonly Process? epmd; // the first node's; the nodes that join it share it and its Erlang cookie
    private readonly string cookieHome;
    private Process? node;

    public RabbitMqNode() : this(seed: null)
    {
    }

    private RabbitMqNode(RabbitMqNode? seed)
    {
        EnsureInstalled();
        Root = Directory.CreateTempSubdirectory("mlnetconv-rabbitmq").FullName;
        AmqpPort = FreePort();
        DistributionPort = FreePort();
        EpmdPort = seed?.EpmdPort ?? FreePort();
        cookieHome = seed?.cookieHome ?? Root;
        Name = $"mlnetconv-test-{Environment.ProcessId}-{Interlocked.Increment(ref nodes)}@localhost";
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        Directory.CreateDirectory(Path.Combine(Root, "log"));
        File.WriteAllText(Path.Combine(Root, "enabled_plugins"), "[].");
        File.WriteAllText(Path.Combine(Root, "rabbitmq.conf"),
            $"listeners.tcp.1 = 127.0.0.1:{AmqpPort}\ndisk_free_limit.absolute = 50MB\n");
        if (seed is null)
        {
            // Our own epmd on loopback, in the foreground, so it is ours to stop.
            var start = new ProcessStartInfo("epmd") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in new[] { "-address", "127.0.0.1", "-port", EpmdPort.ToString() }) start.ArgumentList.Add(arg);
            epmd = Process.Start(start)!;
        }
        Start();
        if (seed is not null)
        {
            Ctl("stop_app");
            Ctl("join_cluster", seed.Name);
            Ctl("start_app");
        }
    }

    /// <summary>A new node that joins this one's cluster (same cookie and epmd, its own ports and data).</summary>
    public RabbitMqNode Join() => new(this);

    public string Root { get; }

    public string Name { get; }

    public int AmqpPort { get; }

    public int DistributionPort { get; }

    public int EpmdPort { get; }

    public string Uri => $"amqp://guest:guest@127.0.0.1:{AmqpPort}/";

    /// <summary>Starts the node (again, on the same data) and waits until it accepts AMQP connections.</summary>
    public void Start()
    {
        if (node is { HasExited: false }) throw new InvalidOperationException("The node is running.");
        var start = new ProcessStartInfo(Server) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        SetEnvironment(start);
        start.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        start.Environment["RABBITMQ_NODE_PORT"] = AmqpPort.ToString();
        start.Environment["RABBITMQ_DIST_PORT"] = DistributionPort.ToString();
        start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(Root, "data");
        start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(Root, "log");
        start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(Root, "node.pid");
        start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Root, "enabled_plugins");
        start.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(Root, "rabbitmq");
        start.Environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}";
        node = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        node.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        node.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!Accepts())
        {
            if (node.HasExited || clock.Elapsed > TimeSpan.FromSeconds(90))
            {
                string said;
                lock (output) said = output.ToString();
                throw new InvalidOperationException($"The RabbitMQ node {Name} did not start (exited: {node.HasExited}). Its output:\n{said}");
            }
            Thread.Sleep(250);
        }
    }

    /// <summary>Stops the node gracefully (SIGTERM to the process this fixture started) and waits for it to end.</summary>
    public void Stop()
    {
        if (node is not { HasExited: false }) return;
        using (var kill = Process.Start("kill", ["-TERM", node.Id.ToString()])) kill.WaitForExit();
        if (!node.WaitForExit(60_000)) node.Kill(entireProcessTree: true);
        node.WaitForExit();
    }

    /// <summary>Kills the node with SIGKILL, as a crashed machine would go.</summary>
    public void Kill()
    {
        if (node is not { HasExited: false }) return;
        node.Kill(entireProcessTree: true);
        node.WaitForExit();
    }

    /// <summary>Runs rabbitmqctl against this node; returns its output, or throws with it.</summary>
    public string Ctl(params string[] args)
    {
        var start = new ProcessStartInfo(Control) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        SetEnvironment(start);
        start.ArgumentList.Add("-n");
        start.ArgumentList.Add(Name);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var ctl = Process.Start(start)!;
        Task<string> error = ctl.StandardError.ReadToEndAsync();
        string output = ctl.StandardOutput.ReadToEnd();
        ctl.WaitForExit();
        if (ctl.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed ({ctl.ExitCode}): {output}{error.Result}");
        return output;
    }

    /// <summary>Messages ready in a queue (a passive declare).</summary>
    public async Task<uint> MessageCountAsync(string queue)
    {
        await using IConnection connection = await new ConnectionFactory { Uri = new System.Uri(Uri) }.CreateConnectionAsync();
        await using IChannel channel = await connection.CreateChannelAsync();
        return await channel.MessageCountAsync(queue);
    }

    public void Dispose()
    {
        Stop();
        if (epmd is { HasExited: false })
        {
            epmd.Kill();
            epmd.WaitForExit();
        }
        Directory.Delete(Root, recursive: true);
    }

    // The node's and the CLI's shared environment: the (cluster's) cookie under HOME, and the epmd.
    private void SetEnvironment(ProcessStartInfo start)
    {
        start.Environment["HOME"] = cookieHome;
        start.Environment["RABBITMQ_NODENAME"] = Name;
        start.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        start.Environment["ERL_EPMD_PORT"] = EpmdPort.ToString();
    }

    private bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, AmqpPort);
            using IConnection connection = new ConnectionFactory { Uri = new System.Uri(Uri) }.CreateConnectionAsync().GetAwaiter().GetResult();
            return connection.IsOpen;
        }
        catch (Exception e) when (e is SocketException or RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static void EnsureInstalled()
    {
        if (File.Exists(Server)) return;
        string script = Path.GetFullPath(Path.Combine(RepositoryData.SubsetDirectory, "..", "..", "build", "rabbitmq", "install.sh"));
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        using var install = Process.Start(start)!;
        Task<string> error = install.StandardError.ReadToEndAsync();
        string output = install.StandardOutput.ReadToEnd();
        install.WaitForExit();
        if (install.ExitCode != 0 || !File.Exists(Server))
            throw new InvalidOperationException($"RabbitMQ could not be installed by {script} ({install.ExitCode}): {output}{error.Result}");
    }
}
