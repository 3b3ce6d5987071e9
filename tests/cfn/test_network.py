"""The network template: two AZs, public and private subnets, a NAT gateway per AZ,
private routes through their own AZ's NAT, flow logs to an encrypted log group."""

from __future__ import annotations

from tests.cfn.conftest import Template, resources_of_type


def test_subnets_span_two_azs(templates: dict[str, Template]) -> None:
    network = templates["network"]
    subnets = resources_of_type(network, "AWS::EC2::Subnet")
    assert sorted(subnets) == ["PrivateSubnet1", "PrivateSubnet2", "PublicSubnet1", "PublicSubnet2"]
    for logical, subnet in subnets.items():
        az = subnet["Properties"]["AvailabilityZone"]["Fn::Select"]
        assert az[1] == {"Fn::GetAZs": ""}
        assert az[0] == int(logical[-1]) - 1
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_each_private_subnet_leaves_through_its_own_azs_nat(templates: dict[str, Template]) -> None:
    network = templates["network"]
    nats = resources_of_type(network, "AWS::EC2::NatGateway")
    assert {n["Properties"]["SubnetId"]["Ref"] for n in nats.values()} == {
        "PublicSubnet1",
        "PublicSubnet2",
    }
    for n in (1, 2):
        route = network["Resources"][f"PrivateDefaultRoute{n}"]["Properties"]
        assert route["NatGatewayId"] == {"Ref": f"NatGateway{n}"}
        assert route["RouteTableId"] == {"Ref": f"PrivateRouteTable{n}"}
        association = network["Resources"][f"PrivateSubnet{n}RouteTableAssociation"]
        assert association["Properties"]["RouteTableId"] == {"Ref": f"PrivateRouteTable{n}"}
    public = network["Resources"]["PublicDefaultRoute"]["Properties"]
    assert public["GatewayId"] == {"Ref": "InternetGateway"}


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(
    templates: dict[str, Template],
) -> None:
    network = templates["network"]
    (flow_log,) = resources_of_type(network, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["LogGroupName"] == {"Ref": "FlowLogGroup"}
    group = network["Resources"]["FlowLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    assert network["Resources"]["LogsKey"]["Properties"]["EnableKeyRotation"] is True
    role = network["Resources"]["FlowLogRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert all("vpc-flow-logs" in r["Fn::Sub"] for r in statement["Resource"])
