using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;
using Fabric.Nodes.Cli;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// The validator remoting uses on both sides of every connection (src/Actors/Cluster/RemoteTls.cs): the cluster CA is
/// the only root. What the system's validation said (<see cref="SslPolicyErrors"/>) never admits a certificate, since
/// the system store would trust any public CA.
/// </summary>
public sealed class RemoteTlsTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly ClusterCa _ca = ClusterCa.Create(Now);
    private readonly ClusterCa _otherCa = ClusterCa.Create(Now);

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private bool Accepts(X509Certificate2? peer, SslPolicyErrors errors = SslPolicyErrors.None)
        => RemoteTls.Validator(PublicOnly(_ca.Certificate))(peer, null, "test-peer", errors, NoLogger.Instance);

    private static X509Certificate2 PublicOnly(X509Certificate2 c) => X509CertificateLoader.LoadCertificate(c.RawData);

    [Fact]
    public void A_certificate_the_cluster_CA_signed_is_accepted_whatever_the_system_store_said()
    {
        using var node = _ca.IssueNode("node-1", IPAddress.Parse("10.0.0.1"), Now);
        Assert.True(Accepts(PublicOnly(node), SslPolicyErrors.RemoteCertificateChainErrors)); // untrusted by the system: fine
        Assert.True(Accepts(PublicOnly(node), SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void Another_CAs_certificate_of_the_same_name_is_refused_even_when_the_system_trusts_it()
    {
        using var intruder = _otherCa.IssueNode("node-1", IPAddress.Parse("10.0.0.1"), Now);
        Assert.False(Accepts(PublicOnly(intruder)));
        Assert.False(Accepts(PublicOnly(intruder), SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void A_self_signed_certificate_of_the_same_name_is_refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=node-1, O=Fabric", key, HashAlgorithmName.SHA256);
        using var self = request.CreateSelfSigned(Now.AddHours(-1), Now.AddDays(1));
        Assert.False(Accepts(PublicOnly(self)));
    }

    [Fact]
    public void A_forged_CA_with_the_clusters_CA_name_does_not_pass_for_it()
    {
        // Same subject as the cluster CA, another key: a chain by names alone would take its certificates.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(_ca.Certificate.SubjectName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var forgedCa = request.CreateSelfSigned(Now.AddHours(-1), Now.AddDays(1));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=node-1, O=Fabric", leafKey, HashAlgorithmName.SHA256);
        using var leaf = leafRequest.Create(forgedCa, Now.AddHours(-1), Now.AddDays(1), [1, 2, 3, 4]);
        Assert.False(Accepts(leaf));
    }

    [Fact]
    public void A_peer_without_a_certificate_is_refused()
    {
        Assert.False(Accepts(null, SslPolicyErrors.RemoteCertificateNotAvailable));
        Assert.False(Accepts(null));
    }

    [Fact]
    public void Remote_tls_without_a_CA_or_with_a_missing_file_is_one_clear_configuration_error()
    {
        Assert.Null(RemoteTls.From(FabricHocon.Load()));
        var noCa = Assert.Throws<ConfigurationException>(() => RemoteTls.From(FabricHocon.Load(overrides: "fabric.remote-tls.certificate = \"/nonexistent/node.pfx\"")));
        Assert.Contains("fabric.remote-tls.ca", noCa.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ConfigurationException>(() => RemoteTls.From(FabricHocon.Load(
            overrides: "fabric.remote-tls.certificate = \"/nonexistent/node.pfx\"\nfabric.remote-tls.ca = \"/nonexistent/ca.crt\"")));
        Assert.Contains("/nonexistent/node.pfx", missing.Message, StringComparison.Ordinal);
    }
}
