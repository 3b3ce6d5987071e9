"""The network stack: a VPC over two AZs with public and private subnets, one NAT
gateway per AZ (so losing an AZ does not cut the other's egress), VPC flow logs to an
encrypted log group, and the KMS key every stage's log groups use."""

from __future__ import annotations

from awacs.aws import ArnLike, Condition
from troposphere import Cidr, GetAtt, GetAZs, Join, Parameter, Ref, Select, Sub, Tags, Template
from troposphere.ec2 import (
    EIP,
    VPC,
    FlowLog,
    InternetGateway,
    NatGateway,
    Route,
    RouteTable,
    Subnet,
    SubnetRouteTableAssociation,
    VPCGatewayAttachment,
)
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup

from cfn.common import new_template
from cfn.kms import customer_key, key_alias, service_may_use_key
from cfn.naming import add_export, scoped
from cfn.policies import actions, allow, arn, assume_role_policy, document

__all__ = ["STACK", "build_network"]

STACK = "network"
AZ_COUNT = 2


def build_network() -> Template:
    """VPC, subnets, gateways, routes, flow logs and the logs KMS key."""
    t = new_template("kkot network: VPC over 2 AZs, public/private subnets, NAT, flow logs")
    cidr = t.add_parameter(
        Parameter("VpcCidr", Type="String", Default="10.0.0.0/16", Description="VPC range")
    )
    retention = t.add_parameter(
        Parameter(
            "LogRetentionDays",
            Type="Number",
            Default=90,
            AllowedValues=[30, 60, 90, 180, 365],
            Description="Days to keep VPC flow logs",
        )
    )

    # Logs from every stack of this stage are encrypted with this key; the condition
    # limits CloudWatch Logs to the stage's own log groups.
    logs_key = t.add_resource(
        customer_key(
            "LogsKey",
            "kkot log groups",
            [
                service_may_use_key(
                    "CloudWatchLogsUseKey",
                    Sub("logs.${AWS::Region}.amazonaws.com"),
                    Condition(
                        ArnLike(
                            "kms:EncryptionContext:aws:logs:arn",
                            arn("logs", "log-group:/kkot/${Stage}/*"),
                        )
                    ),
                )
            ],
        )
    )
    t.add_resource(key_alias("LogsKeyAlias", logs_key, "logs"))

    vpc = t.add_resource(
        VPC(
            "Vpc",
            CidrBlock=Ref(cidr),
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=Tags(Name=scoped("vpc")),
        )
    )
    igw = t.add_resource(InternetGateway("InternetGateway", Tags=Tags(Name=scoped("igw"))))
    attachment = t.add_resource(
        VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
        )
    )
    public_routes = t.add_resource(
        RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=Tags(Name=scoped("public")))
    )
    t.add_resource(
        Route(
            "PublicDefaultRoute",
            DependsOn=attachment.title,
            RouteTableId=Ref(public_routes),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )

    # Four /20s (for a /16): public AZ1, public AZ2, private AZ1, private AZ2.
    blocks = Cidr(GetAtt(vpc, "CidrBlock"), 4, 12)
    public_subnets, private_subnets = [], []
    for index in range(AZ_COUNT):
        n = index + 1
        az = Select(index, GetAZs(""))
        public = t.add_resource(
            Subnet(
                f"PublicSubnet{n}",
                VpcId=Ref(vpc),
                AvailabilityZone=az,
                CidrBlock=Select(index, blocks),
                # Nothing in a public subnet needs an automatic public IP: the ALB and
                # the NAT gateways get theirs explicitly.
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=scoped(f"public-{n}")),
            )
        )
        t.add_resource(
            SubnetRouteTableAssociation(
                f"PublicSubnet{n}RouteTableAssociation",
                SubnetId=Ref(public),
                RouteTableId=Ref(public_routes),
            )
        )
        eip = t.add_resource(
            EIP(
                f"NatEip{n}",
                Domain="vpc",
                DependsOn=attachment.title,
                Tags=Tags(Name=scoped(f"nat-{n}")),
            )
        )
        nat = t.add_resource(
            NatGateway(
                f"NatGateway{n}",
                AllocationId=GetAtt(eip, "AllocationId"),
                SubnetId=Ref(public),
                Tags=Tags(Name=scoped(f"nat-{n}")),
            )
        )
        private = t.add_resource(
            Subnet(
                f"PrivateSubnet{n}",
                VpcId=Ref(vpc),
                AvailabilityZone=az,
                CidrBlock=Select(AZ_COUNT + index, blocks),
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=scoped(f"private-{n}")),
            )
        )
        private_routes = t.add_resource(
            RouteTable(
                f"PrivateRouteTable{n}", VpcId=Ref(vpc), Tags=Tags(Name=scoped(f"private-{n}"))
            )
        )
        t.add_resource(
            Route(
                f"PrivateDefaultRoute{n}",
                RouteTableId=Ref(private_routes),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref(nat),
            )
        )
        t.add_resource(
            SubnetRouteTableAssociation(
                f"PrivateSubnet{n}RouteTableAssociation",
                SubnetId=Ref(private),
                RouteTableId=Ref(private_routes),
            )
        )
        public_subnets.append(Ref(public))
        private_subnets.append(Ref(private))

    flow_log_group = t.add_resource(
        LogGroup(
            "FlowLogGroup",
            LogGroupName=Sub("/kkot/${Stage}/vpc-flow-logs"),
            RetentionInDays=Ref(retention),
            KmsKeyId=GetAtt(logs_key, "Arn"),
        )
    )
    flow_log_role = t.add_resource(
        Role(
            "FlowLogRole",
            AssumeRolePolicyDocument=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="write-flow-logs",
                    PolicyDocument=document(
                        allow(
                            actions(
                                "logs",
                                "CreateLogStream",
                                "PutLogEvents",
                                "DescribeLogGroups",
                                "DescribeLogStreams",
                            ),
                            [
                                arn("logs", "log-group:/kkot/${Stage}/vpc-flow-logs"),
                                arn("logs", "log-group:/kkot/${Stage}/vpc-flow-logs:log-stream:*"),
                            ],
                        )
                    ),
                )
            ],
        )
    )
    t.add_resource(
        FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(flow_log_group),
            DeliverLogsPermissionArn=GetAtt(flow_log_role, "Arn"),
        )
    )

    add_export(t, STACK, "VpcId", Ref(vpc), "The VPC")
    add_export(t, STACK, "VpcCidr", GetAtt(vpc, "CidrBlock"), "The VPC's address range")
    add_export(
        t, STACK, "PublicSubnetIds", Join(",", public_subnets), "Public subnets, comma-separated"
    )
    add_export(
        t, STACK, "PrivateSubnetIds", Join(",", private_subnets), "Private subnets, comma-separated"
    )
    add_export(
        t, STACK, "LogsKeyArn", GetAtt(logs_key, "Arn"), "KMS key for the stage's log groups"
    )
    return t
